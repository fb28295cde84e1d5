"""Certificates made for this run: no private key is committed."""
import os


def make_certificates(folder):
    """A certificate authority, a server certificate it signed for
    127.0.0.1 and localhost, a client certificate it signed, and another
    authority that signed none of them: PEM files in ``folder``, made now
    (no private key is committed). Returns their paths by name."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)
    paths = {}

    def save(name, key, certificate):
        paths[name + '_key'] = os.path.join(folder, name + '.key')
        paths[name] = os.path.join(folder, name + '.crt')
        with open(paths[name + '_key'], 'wb') as f:
            f.write(key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))
        with open(paths[name], 'wb') as f:
            f.write(certificate.public_bytes(serialization.Encoding.PEM))

    def key_usage(**allowed):
        return x509.KeyUsage(**dict(dict.fromkeys(
            ['digital_signature', 'content_commitment', 'key_encipherment',
             'data_encipherment', 'key_agreement', 'key_cert_sign',
             'crl_sign', 'encipher_only', 'decipher_only'], False),
            **allowed))

    def make(name, issuer=None, issuer_key=None, san=None, usage=None,
             rsa_key=False, ocsp=None):
        # as RFC 5280 has them, which Python 3.13 and later check by
        # default (VERIFY_X509_STRICT): key identifiers, and key usages
        key = rsa.generate_private_key(65537, 2048) if rsa_key \
            else ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(
            NameOID.COMMON_NAME, 'tutorial tests ' + name)])
        builder = (x509.CertificateBuilder()
                   .subject_name(subject)
                   .issuer_name(issuer or subject)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.SubjectKeyIdentifier
                                  .from_public_key(key.public_key()), False))
        if issuer is None:
            builder = builder.add_extension(
                x509.BasicConstraints(ca=True, path_length=None), True)
            builder = builder.add_extension(
                key_usage(key_cert_sign=True, crl_sign=True), True)
        else:
            builder = builder.add_extension(
                x509.BasicConstraints(ca=False, path_length=None), True)
            builder = builder.add_extension(
                key_usage(digital_signature=True,
                          key_encipherment=rsa_key), True)
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([usage]), False)
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    issuer_key.public_key()), False)
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(san), False)
        if ocsp:
            builder = builder.add_extension(x509.AuthorityInformationAccess(
                [x509.AccessDescription(
                    x509.oid.AuthorityInformationAccessOID.OCSP,
                    x509.UniformResourceIdentifier(ocsp))]), False)
        certificate = builder.sign(issuer_key or key, hashes.SHA256())
        save(name, key, certificate)
        return subject, key

    ca, ca_key = make('ca')
    make('other_ca')
    make('server', ca, ca_key, usage=ExtendedKeyUsageOID.SERVER_AUTH,
         san=[x509.IPAddress(ipaddress.ip_address('127.0.0.1')),
              x509.DNSName('localhost')])
    make('client', ca, ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    # for TLS 1.2's ECDHE-RSA suites, and one naming an OCSP responder
    make('server_rsa', ca, ca_key, usage=ExtendedKeyUsageOID.SERVER_AUTH,
         san=[x509.IPAddress(ipaddress.ip_address('127.0.0.1')),
              x509.DNSName('localhost')], rsa_key=True)
    make('server_ocsp', ca, ca_key, usage=ExtendedKeyUsageOID.SERVER_AUTH,
         san=[x509.DNSName('localhost')], ocsp='http://ocsp.invalid/')
    return paths
