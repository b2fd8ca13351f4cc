#!/usr/bin/env python3
"""Runs a PyTorch peer script (../shared/peers) under torch.autocast, so that hwnas's
`--autocast bf16` is measured against PyTorch's own bf16 autocast in the same run.

    python3 bench/peer_autocast.py PEER.py ARGS...     (e.g. fbnet_torch.py train --device cuda)

The peer runs unchanged (its main(), its timing, its JSON line) with autocast entered around it;
a first JSON line says which autocast was on. bf16 autocast needs --device cuda.
"""
import json
import runpy
import sys


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ('-h', '--help'):
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2 if len(sys.argv) < 2 else 0)
    import torch
    if not torch.cuda.is_available():
        sys.exit('peer_autocast.py: bf16 autocast needs a GPU, and this PyTorch sees none '
                 '(torch.cuda.is_available() is False)')
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    print(json.dumps({'peer': script, 'autocast': 'bf16'}), flush=True)
    with torch.autocast('cuda', dtype=torch.bfloat16):
        runpy.run_path(script, run_name='__main__')


if __name__ == '__main__':
    main()
