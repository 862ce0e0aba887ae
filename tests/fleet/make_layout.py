#!/usr/bin/env python3
"""Writes an OCI image layout (image-spec: oci-layout, index.json, blobs/sha256) of a driver
in wasi-hw's registry layout, independently of wasi-hw: tests copy it into a registry with
skopeo and pull it with `wasi-hw pull`.

  make_layout.py DIR TAG --wasm FILE [--aot OS/ARCH[/VARIANT]=FILE]... [--no-signatures]

Each module's signature is FILE.sig (made by any signify/usign), unless --no-signatures."""
import argparse
import hashlib
import json
import os

WASM_CONFIG = "application/vnd.wasm.config.v0+json"
WASM = "application/wasm"
AOT = "application/vnd.wasi-hw.aot.v1"
SIGNATURE = "application/vnd.wasi-hw.signature.signify.v1"
TITLE = "org.opencontainers.image.title"
SIGNS = "dev.wasi-hw.signature.of"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"


def blob(root, media_type, data, annotations=None):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(os.path.join(root, "blobs", "sha256", digest[7:]), "wb") as f:
        f.write(data)
    d = {"mediaType": media_type, "digest": digest, "size": len(data)}
    if annotations:
        d["annotations"] = annotations
    return d


def module_layers(root, media_type, path, signed):
    with open(path, "rb") as f:
        layer = blob(root, media_type, f.read(), {TITLE: os.path.basename(path)})
    layers = [layer]
    if signed:
        with open(path + ".sig", "rb") as f:
            layers.append(blob(root, SIGNATURE, f.read(),
                               {TITLE: os.path.basename(path) + ".sig", SIGNS: layer["digest"]}))
    return layers


def platform(name):
    parts = name.split("/")
    p = {"os": parts[0], "architecture": parts[1]}
    if len(parts) == 3:
        p["variant"] = parts[2]
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("tag")
    ap.add_argument("--wasm", required=True)
    ap.add_argument("--aot", action="append", default=[])
    ap.add_argument("--no-signatures", action="store_true")
    a = ap.parse_args()
    root = a.dir
    os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    signed = not a.no_signatures
    wasm_layers = module_layers(root, WASM, a.wasm, signed)
    config = blob(root, WASM_CONFIG, json.dumps(
        {"architecture": "wasm", "os": "wasip1",
         "layerDigests": [wasm_layers[0]["digest"]]}).encode())

    def manifest(layers, plat):
        body = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST,
                           "config": config, "layers": layers}).encode()
        d = blob(root, MANIFEST, body)
        d["platform"] = platform(plat)
        return d

    entries = []
    for spec in a.aot:
        plat, path = spec.split("=", 1)
        entries.append(manifest(wasm_layers + module_layers(root, AOT, path, signed), plat))
    entries.append(manifest(wasm_layers, "wasip1/wasm"))
    index = blob(root, INDEX, json.dumps(
        {"schemaVersion": 2, "mediaType": INDEX, "manifests": entries}).encode())
    index["annotations"] = {"org.opencontainers.image.ref.name": a.tag}
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": INDEX, "manifests": [index]}, f)


main()
