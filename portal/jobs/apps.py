from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "portal.jobs"
    label = "jobs"
    verbose_name = "Render jobs"

    def ready(self):
        from django.db.models.signals import post_delete, pre_delete

        from portal.concurrent_deletes import lock_row_being_deleted
        from portal.jobs import deletion, notifications, webhooks
        from portal.jobs.models import Job, JobSegment
        from portal.jobs.signals import job_finished

        job_finished.connect(webhooks.on_job_finished, dispatch_uid="portal.jobs.webhooks")
        job_finished.connect(notifications.on_job_finished, dispatch_uid="portal.jobs.notifications")
        pre_delete.connect(lock_row_being_deleted, sender=Job, dispatch_uid="jobs.lock")  # first: the others ask it
        pre_delete.connect(deletion.release_reservation_of_deleted_job, sender=Job, dispatch_uid="jobs.reservation")
        post_delete.connect(deletion.remove_files_of_deleted_job, sender=Job, dispatch_uid="jobs.files")
        post_delete.connect(deletion.remove_file_of_deleted_part, sender=JobSegment, dispatch_uid="jobs.part_files")
