#!/usr/bin/env python3
"""Helper of bench/export_check.sh: the independent side of the export checks.

  export_check.py fbnet-peer-weights OUT.safetensors
      builds the PyTorch peer FBNet (arch 0), gives its batch norms non-trivial statistics (a few
      training-mode passes on random data, random affine parameters), and writes its state_dict
      as safetensors with the numpy writer below (not ours): the weights hwnas imports for fbnet:0.
  export_check.py split-attention NET.json OUT.json SEED
      a random elastic-mobile subnet (NET.json, as `hwnas net` prints it) with Split-Attention:
      each block's radix drawn from {1, 2, 4}, at least one block > 1.
  export_check.py check --auto A.safetensors --hwnas H.safetensors --ref R.safetensors [--orig O.safetensors]
      reads both files with numpy (the format checked on its own: header, offsets tiling the
      buffer); checks docs/export.md's naming rule, implemented again here, tensor by tensor
      (A's peer-named tensors against H's module-path tensors); loads A into the PyTorch peer
      (strict load_state_dict) and compares its outputs with the engine's (R: "input" and
      "logits" from `hwnas export --reference-out`); with --orig, compares A with the peer's own
      file it was imported from. Prints one JSON line.

The peers' classes are imported from ../shared/peers (sys.path), not copied.
"""
import argparse, json, os, random, struct, sys

import numpy as np

PEERS = os.environ.get('HWNAS_PEERS', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'peers'))
DT = {'F32': np.dtype('<f4'), 'I64': np.dtype('<i8'), 'F16': np.dtype('<f2'), 'BF16': None}


def read_safetensors(path):
    """A safetensors reader in a few lines, validating what the format requires."""
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    assert 8 + n <= len(b), f'{path}: header length {n} past the end'
    h = json.loads(b[8:8 + n].decode('utf-8'))
    meta = h.pop('__metadata__', {})
    assert all(isinstance(v, str) for v in meta.values()), 'metadata must be strings'
    data, out, spans = b[8 + n:], {}, []
    for k, v in h.items():
        s, e = v['data_offsets']
        dt = DT[v['dtype']]
        assert e - s == int(np.prod(v['shape'], dtype=np.int64)) * dt.itemsize, f'{k}: size'
        out[k] = np.frombuffer(data[s:e], dtype=dt).reshape(v['shape']).copy()
        spans.append((s, e))
    at = 0
    for s, e in sorted(spans):
        assert s == at, f'{path}: hole or overlap at byte {s}'
        at = e
    assert at == len(data), f'{path}: {len(data) - at} bytes past the last tensor'
    return out, meta


def write_safetensors(path, tensors, meta):
    header, off, blobs = {'__metadata__': meta}, 0, []
    for k, a in tensors.items():
        a = np.asarray(a)  # (np.ascontiguousarray would make a scalar 1-D)
        raw = a.astype(a.dtype.newbyteorder('<')).tobytes(order='C')
        header[k] = {'dtype': {'float32': 'F32', 'int64': 'I64'}[a.dtype.name], 'shape': list(a.shape),
                     'data_offsets': [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    hb = json.dumps(header).encode()
    hb += b' ' * ((8 - len(hb) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(hb)) + hb + b''.join(blobs))


def peers():
    sys.path.insert(0, PEERS)
    import fbnet_torch, elastic_torch  # noqa: E401
    return fbnet_torch, elastic_torch


# ---- docs/export.md's naming rule, written again from the documentation ------------------------

EM_OUTS, EM_MAX_DEPTH = [24, 40, 64, 96], [2, 3, 3, 2]


def conv_bn_pairs(ours, peer, n_out):
    """ConvBnAct `ours` as the PyTorch Sequential(Conv2d, BatchNorm2d) `peer`."""
    pairs = [(f'{ours}.conv.weight', f'{peer}.0.weight', None)]
    pairs += [(f'{ours}.bn.{f}', f'{peer}.1.{f}', None) for f in ('weight', 'bias', 'running_mean', 'running_var')]
    return pairs


def fbnet_pairs(layers):
    pairs, n = [], len(layers)
    name = lambda i: f"{layers[i]['type']}{i}"
    pairs += conv_bn_pairs(name(0), 'stem', None)
    for i in range(1, n - 3):
        l, q = layers[i], f'blocks.{i - 1}.body'
        if l['type'] == 'conv_bn_act':
            pairs += conv_bn_pairs(name(i), q, None)
        elif l['type'] == 'mbconv':
            g = l.get('groups', 1) > 1
            pairs += conv_bn_pairs(name(i) + '.expand', q + '.0', None)
            pairs += conv_bn_pairs(name(i) + '.dw', q + ('.2' if g else '.1'), None)
            pairs += conv_bn_pairs(name(i) + '.project', q + ('.3' if g else '.2'), None)
    pairs += conv_bn_pairs(name(n - 3), 'header', None)
    pairs += [(f'{name(n - 1)}.weight', 'fc.weight', None), (f'{name(n - 1)}.bias', 'fc.bias', None)]
    return pairs


def elastic_pairs(layers):
    """(ours, peer, slicer): slicer(peer_array, our_shape) -> the part our tensor is."""
    name = lambda i: f"{layers[i]['type']}{i}"
    lead = lambda a, s: a[tuple(slice(0, d) for d in s)]
    def centre(a, s):
        off = (a.shape[2] - s[2]) // 2
        return a[:s[0], :, off:off + s[2], off:off + s[3]]
    pairs = conv_bn_pairs(name(0), 'stem', None)
    i = 1
    for st in range(4):
        j = 0
        while i < len(layers) and layers[i]['type'] == 'mbconv' and layers[i]['out'] == EM_OUTS[st]:
            p, q = name(i), f'stages.{st}.{j}'
            pairs += [(f'{p}.expand.conv.weight', f'{q}.pw', lead), (f'{p}.dw.conv.weight', f'{q}.dw', centre),
                      (f'{p}.project.conv.weight', f'{q}.pj', lead)]
            for ours_bn, peer_bn in (('expand', 'bn1'), ('dw', 'bn2'), ('project', 'bn3')):
                pairs += [(f'{p}.{ours_bn}.bn.{f}', f'{q}.{peer_bn}.{f}', lead)
                          for f in ('weight', 'bias', 'running_mean', 'running_var')]
            i, j = i + 1, j + 1
    pairs += conv_bn_pairs(name(i), 'head', None)
    pairs += [(f'{name(i + 2)}.weight', 'fc.weight', None), (f'{name(i + 2)}.bias', 'fc.bias', None)]
    return pairs


def check(a):
    auto, meta = read_safetensors(a.auto)
    ours, ometa = read_safetensors(a.hwnas)
    ref, _ = read_safetensors(a.ref)
    naming = meta['hwnas.naming']
    layers = json.loads(meta['hwnas.network'])['layers']
    out = {'naming': naming, 'tensors': len(auto), 'bytes': os.path.getsize(a.auto)}
    assert ometa['hwnas.naming'] == 'hwnas'
    if naming == 'hwnas':
        same = all(np.array_equal(auto[k], ours[k]) for k in ours) and auto.keys() == ours.keys()
        out.update({'numpy_reader': 'ok' if same else 'MISMATCH', 'pytorch_peer': 'none (no peer network has this structure)'})
        return out
    pairs = fbnet_pairs(layers) if naming == 'fbnet_torch.FBNet' else elastic_pairs(layers)
    bad = [o for o, p, sl in pairs
           if not np.array_equal((sl(auto[p], ours[o].shape) if sl else auto[p]), ours[o])]
    covered = {o for o, _, _ in pairs}
    out['numpy_reader'] = 'ok' if not bad and covered == set(ours) else f'MISMATCH {bad[:5]} {sorted(set(ours) - covered)[:5]}'
    out['naming_rule_tensors_compared'] = len(pairs)
    if a.orig:
        orig, _ = read_safetensors(a.orig)
        diff = [k for k in orig if orig[k].dtype == np.float32 and not np.array_equal(orig[k], auto[k])]
        out['same_as_original_peer_file'] = not diff and set(orig) == set(auto)
    import torch
    torch.set_num_threads(1)
    fbnet_torch, elastic_torch = peers()
    if naming == 'fbnet_torch.FBNet':
        model = fbnet_torch.FBNet(meta['hwnas.fbnet_ops'].split(','))
        fwd = model
    else:
        model = elastic_torch.ElasticNet()
        arch = json.loads(meta['hwnas.arch'])
        fwd = lambda x: model(x, arch)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in auto.items()})  # strict
    model.eval()
    with torch.no_grad():
        y = fwd(torch.from_numpy(ref['input']))
    out['pytorch_peer'] = type(model).__name__
    out['pytorch_max_abs_diff'] = float((y - torch.from_numpy(ref['logits'])).abs().max())
    out['max_abs_logit'] = float(np.abs(ref['logits']).max())
    out['pytorch_batch'] = int(ref['input'].shape[0])
    return out


def fbnet_peer_weights(path):
    import torch
    fbnet_torch, _ = peers()
    torch.manual_seed(0)
    ops = fbnet_torch.parse_arch('0')
    model = fbnet_torch.FBNet(ops)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.6, 1.4, generator=g)
                m.bias.normal_(0, 0.2, generator=g)
        model.train()
        for _ in range(8):  # running statistics of real activations
            model(torch.randn(16, 3, 32, 32, generator=g))
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    write_safetensors(path, sd, {'written_by': 'numpy (bench/export_check.py)', 'peer': 'fbnet_torch.FBNet arch 0'})
    return {'out': path, 'tensors': len(sd), 'ops': ','.join(ops)}


def split_attention(net_path, out_path, seed):
    net = json.load(open(net_path))
    rng = random.Random(seed)
    blocks = [l for l in net['layers'] if l['type'] == 'mbconv']
    for l in blocks:
        l['radix'] = rng.choice([1, 2, 4])
    if all(l['radix'] == 1 for l in blocks):
        blocks[0]['radix'] = 2
    spec = {k: net[k] for k in ('input', 'classes', 'layers')}
    spec['name'] = 'elastic-mobile-split-attention'
    json.dump(spec, open(out_path, 'w'))
    return {'out': out_path, 'radix': [l['radix'] for l in blocks]}


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('fbnet-peer-weights')
    p.add_argument('out')
    p = sub.add_parser('split-attention')
    p.add_argument('net')
    p.add_argument('out')
    p.add_argument('seed', type=int)
    p = sub.add_parser('check')
    p.add_argument('--auto', required=True)
    p.add_argument('--hwnas', required=True)
    p.add_argument('--ref', required=True)
    p.add_argument('--orig')
    a = ap.parse_args()
    if a.cmd == 'fbnet-peer-weights':
        r = fbnet_peer_weights(a.out)
    elif a.cmd == 'split-attention':
        r = split_attention(a.net, a.out, a.seed)
    else:
        r = check(a)
    print(json.dumps(r))


if __name__ == '__main__':
    main()
