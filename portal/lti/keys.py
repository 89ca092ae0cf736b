"""The tool's signing keys: an RSA pair per LtiToolKey row. The private half signs our deep-linking answers and
never leaves the database (admin does not show it); the public half is published at /lti/jwks/, so a new key can be
added, and platforms moved to it, before an old one is deleted."""

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pylti1p3.contrib.django.lti1p3_tool_config.models import LtiToolKey

KEY_BITS = 2048  # what Moodle and Canvas expect of RS256 keys


def new_key_pair() -> tuple[str, str]:
    """(private PEM, public PEM), made here so nobody pastes a key that also lives somewhere else."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def create_key(name: str) -> LtiToolKey:
    private_pem, public_pem = new_key_pair()
    # The model's save() derives the public JWK (with its kid, the key's thumbprint) from the public key.
    return LtiToolKey.objects.create(name=name, private_key=private_pem, public_key=public_pem)
