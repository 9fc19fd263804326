#!/usr/bin/env python3
"""Append many APIs/routes and consumers to a Gatehouse config (for bench/e2e.sh and bench/scale.sh).

Usage: big_config.py CONFIG ROUTES CONSUMERS CLUSTER [--extra-route PATH]

Appends ROUTES [[api]]s, each with base path /r/<n> and one [[api.route]] (every third one a
path parameter, every third one two), and CONSUMERS [[consumer]]s with one `sha256:` key each
(the format `gatehouse hash-key` prints). --extra-route adds one more API at PATH whose answers
carry `X-Reload-Mark: PATH` (scale.sh's reload check: a route only the new config has). Prints
the plain key of the consumer in the middle, the one the benchmark sends.
"""

import hashlib
import sys


def key_of(n):
    return f"bench-consumer-{n:06d}-a1b2c3d4e5f6"


def apis(count, cluster):
    shapes = [
        ('path = "/"', ""),
        ('path = "/items/{id}"\nexact = true', ""),
        ('path = "/users/{uid}/orders/{oid}"\nexact = true', '\nmethods = ["GET", "POST"]'),
    ]
    for n in range(count):
        path, methods = shapes[n % 3]
        yield (f'\n[[api]]\nname = "r{n}"\nbase_path = "/r/{n}"\ncluster = "{cluster}"\n'
               f"\n[[api.route]]\n{path}{methods}\n")


def consumers(count):
    for n in range(count):
        digest = hashlib.sha256(key_of(n).encode()).hexdigest()
        yield f'\n[[consumer]]\nname = "c{n:06d}"\napi_keys = ["sha256:{digest}"]\n'


def main():
    args = sys.argv[1:]
    extra = None
    if "--extra-route" in args:
        i = args.index("--extra-route")
        extra = args[i + 1]
        del args[i:i + 2]
    if len(args) != 4:
        sys.exit(__doc__)
    path, routes, count, cluster = args[0], int(args[1]), int(args[2]), args[3]
    with open(path, "a") as f:
        f.writelines(apis(routes, cluster))
        if extra:
            # The bare "/" API answers every path: the mark header tells the new API's answers apart.
            f.write(f'\n[[api]]\nname = "added-by-reload"\nbase_path = "{extra}"\ncluster = "{cluster}"\n'
                    f'response = {{ set_headers = {{ "X-Reload-Mark" = "{extra}" }} }}\n')
        f.writelines(consumers(count))
    print(key_of(count // 2))


if __name__ == "__main__":
    main()
