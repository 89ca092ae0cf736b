// Validates KEDA objects against KEDA's CRD schemas: reads a JSON list of Kubernetes objects on stdin, checks those of
// the keda.sh group, prints one line per object and exits 1 if any is invalid (or of a KEDA kind it does not know).
import { ClusterTriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1/ClusterTriggerAuthentication";
import { ScaledJob } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledJob";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication";
import { readFileSync } from "node:fs";

const kinds = { ClusterTriggerAuthentication, ScaledJob, ScaledObject, TriggerAuthentication };
let invalid = 0;
for (const object of JSON.parse(readFileSync(0, "utf8"))) {
  if (!String(object.apiVersion).startsWith("keda.sh/")) continue;
  const name = `${object.kind}/${object.metadata?.name}`;
  const Model = object.apiVersion === "keda.sh/v1alpha1" ? kinds[object.kind] : undefined;
  try {
    if (!Model) throw new Error(`no KEDA schema for ${object.apiVersion} ${object.kind}`);
    new Model(object).validate();
    console.log(`valid ${name}`);
  } catch (error) {
    invalid += 1;
    console.log(`invalid ${name}: ${error.message}`);
  }
}
process.exit(invalid ? 1 : 0);
