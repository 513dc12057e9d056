"""micrograd's two tests, which check its scalar engine against torch: values and gradients of a small
expression graph written with Tensor([...]).double(), requires_grad set by attribute, .data.item() and .grad.item()."""
import neurona as torch


def micro_value_graph(x):
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    return y


x = torch.Tensor([-4.0]).double()
x.requires_grad = True
y = micro_value_graph(x)
y.backward()
xpt, ypt = x, y
assert ypt.data.item() == -20.0
assert xpt.grad.item() == 46.0

a = torch.Tensor([-4.0]).double()
b = torch.Tensor([2.0]).double()
a.requires_grad = True
b.requires_grad = True
c = a + b
d = a * b + b ** 3
c = c + c + 1
c = c + 1 + c + (-a)
d = d + d * 2 + (b + a).relu()
d = d + 3 * d + (b - a).relu()
e = c - d
f = e ** 2
g = f / 2.0
g = g + 10.0 / f
g.backward()
apt, bpt, gpt = a, b, g
tol = 1e-6
assert abs(gpt.data.item() - 24.70408163265306) < tol
assert abs(apt.grad.item() - 138.83381924198252) < tol
assert abs(bpt.grad.item() - 645.5772594752186) < tol
print("micrograd's checks pass:", gpt.data.item(), apt.grad.item(), bpt.grad.item())
