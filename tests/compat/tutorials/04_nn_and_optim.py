"""nn.Sequential with a Flatten of powers, MSELoss(reduction='sum'), first a hand update over parameters(),
then torch.optim.RMSprop; the fitted layer is read back through its weights."""
import math

import neurona as torch

x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)
p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)
assert xx.shape == (2000, 3)

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
loss_fn = torch.nn.MSELoss(reduction="sum")

learning_rate = 1e-6
first = None
for t in range(2000):
    y_pred = model(xx)
    loss = loss_fn(y_pred, y)
    first = loss.item() if first is None else first
    if t % 500 == 499:
        print(t, loss.item())
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad   # the silent no-op this library once had

linear_layer = model[0]
print(f"Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + "
      f"{linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3")
assert loss.item() < first / 5, (first, loss.item())

model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)
for t in range(2000):
    loss = loss_fn(model(xx), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print("RMSprop", loss.item())
assert loss.item() < 20, loss.item()
