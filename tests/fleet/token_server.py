#!/usr/bin/python3
"""A registry token server, as the distribution spec's token auth has one (Docker Hub's,
Harbor's): GET /token?service=S&scope=repository:NAME:pull,push with HTTP basic auth
answers {"token": JWT}, an RS256 JWT whose x5c header holds the certificate the registry
trusts (its auth.token.rootcertbundle) and whose "access" claim grants the scope.

  token_server.py PORT KEY.pem CERT.pem USER PASSWORD ISSUER

Prints "ready" once listening. Debian's python3-jwt and python3-cryptography."""
import base64
import json
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

port, key_file, cert_file, user, password, issuer = sys.argv[1:7]
key = open(key_file, "rb").read()
cert = x509.load_pem_x509_certificate(open(cert_file, "rb").read())
x5c = [base64.b64encode(cert.public_bytes(Encoding.DER)).decode()]
expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        if url.path != "/token":
            self.send_error(404)
            return
        if self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
            return
        q = parse_qs(url.query)
        access = []
        for scope in q.get("scope", []):
            kind, name, actions = scope.split(":", 2)
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": issuer,
            "sub": user,
            "aud": q.get("service", [""])[0],
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        token = jwt.encode(claims, key, algorithm="RS256", headers={"x5c": x5c})
        body = json.dumps({"token": token, "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", int(port)), Handler)
print("ready", flush=True)
server.serve_forever()
