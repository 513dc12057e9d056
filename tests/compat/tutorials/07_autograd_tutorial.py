"""The autograd tutorial: requires_grad, grad_fn, backward, no_grad and detach, gradients of a vector output,
accumulation, and requires_grad_ for freezing."""
import neurona as torch

x = torch.ones(5)
y = torch.zeros(3)
w = torch.randn(5, 3, requires_grad=True)
b = torch.randn(3, requires_grad=True)
z = torch.matmul(x, w) + b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
print(f"Gradient function for z = {z.grad_fn}")
print(f"Gradient function for loss = {loss.grad_fn}")
assert z.grad_fn is not None and loss.grad_fn is not None
loss.backward()
print(w.grad)
print(b.grad)
expected_b = (torch.sigmoid(z) - y).detach() / 3
assert torch.allclose(b.grad, expected_b, atol=1e-6)
assert torch.allclose(w.grad, torch.outer(x, expected_b), atol=1e-6)

z = torch.matmul(x, w) + b
print(z.requires_grad)
with torch.no_grad():
    z = torch.matmul(x, w) + b
print(z.requires_grad)
assert not z.requires_grad
z = torch.matmul(x, w) + b
z_det = z.detach()
print(z_det.requires_grad)
assert not z_det.requires_grad

inp = torch.eye(4, 5, requires_grad=True)
out = (inp + 1).pow(2).t()
out.backward(torch.ones_like(out), retain_graph=True)
print(f"First call\n{inp.grad}")
first = inp.grad.clone()
out.backward(torch.ones_like(out), retain_graph=True)
print(f"\nSecond call\n{inp.grad}")
assert torch.equal(inp.grad, 2 * first)
inp.grad.zero_()
out.backward(torch.ones_like(out), retain_graph=True)
print(f"\nCall after zeroing gradients\n{inp.grad}")
assert torch.equal(inp.grad, first)

a = torch.tensor([2.0, 3.0], requires_grad=True)
bb = torch.tensor([6.0, 4.0], requires_grad=True)
Q = 3 * a ** 3 - bb ** 2
external_grad = torch.tensor([1.0, 1.0])
Q.backward(gradient=external_grad)
print(9 * a ** 2 == a.grad)
print(-2 * bb == bb.grad)
assert (9 * a ** 2 == a.grad).all() and (-2 * bb == bb.grad).all()

model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
for param in model.parameters():
    param.requires_grad = False
model[2] = torch.nn.Linear(8, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
model(torch.randn(3, 4)).sum().backward()
assert model[0].weight.grad is None and model[2].weight.grad is not None
