"""A hand-written PyTorch training loop: the peer dnn-lab is measured against.

    python benchmarks/torch_loop.py digits|PATH.npz EPOCHS UNITS[,UNITS...]

Same data, model, Adam (lr 1e-3), batch 32 and per-epoch validation; tensors stay in
memory and batches are cut from a fresh permutation each epoch (no DataLoader overhead).
"""

import json
import sys
import time

import torch
from common import load

source = sys.argv[1] if len(sys.argv) > 1 else "digits"
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
units = [int(u) for u in (sys.argv[3] if len(sys.argv) > 3 else "100").split(",")]

torch.manual_seed(42)
(x_train, y_train), (x_val, y_val) = load(source)
x_train, y_train = torch.from_numpy(x_train).flatten(1), torch.from_numpy(y_train)
x_val, y_val = torch.from_numpy(x_val).flatten(1), torch.from_numpy(y_val)
layers, width = [], x_train.shape[1]
for u in units:
    layers += [torch.nn.Linear(width, u), torch.nn.ReLU()]
    width = u
model = torch.nn.Sequential(*layers, torch.nn.Linear(width, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()
seconds, accuracy = [], 0.0
for _ in range(epochs):
    start = time.perf_counter()
    model.train()
    order = torch.randperm(len(x_train))
    for i in range(0, len(order), 32):
        batch = order[i : i + 32]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x_train[batch]), y_train[batch])
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        correct = sum(
            int((model(x_val[i : i + 4096]).argmax(1) == y_val[i : i + 4096]).sum())
            for i in range(0, len(x_val), 4096)
        )
    accuracy = correct / len(x_val)
    seconds.append(time.perf_counter() - start)
print(json.dumps({"seconds": seconds, "val_accuracy": accuracy}))
