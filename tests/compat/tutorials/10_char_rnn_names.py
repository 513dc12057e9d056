"""The character-level RNN name classifier: one-hot letters built by indexing into zeros, a hand-written
RNN cell over torch.cat((input, hidden), 1), topk for the guess, and the update p.data.add_(p.grad.data, alpha=-lr)."""
import random
import string

import neurona as torch
import neurona.nn as nn

all_letters = string.ascii_letters + " .,;'"
n_letters = len(all_letters)
category_lines = {
    "Spanish": ["garcia", "martinez", "lopez", "gonzalez", "rodriguez", "fernandez", "sanchez", "perez", "gomez",
                "jimenez", "ruiz", "hernandez", "diaz", "moreno", "alvarez", "romero", "navarro", "torres"],
    "Japanese": ["sato", "suzuki", "takahashi", "tanaka", "watanabe", "ito", "yamamoto", "nakamura", "kobayashi",
                 "kato", "yoshida", "yamada", "sasaki", "yamaguchi", "matsumoto", "inoue", "kimura", "hayashi"],
    "German": ["muller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker", "schulz",
               "hoffmann", "schafer", "koch", "bauer", "richter", "klein", "wolf", "schroder", "neumann"],
}
all_categories = list(category_lines)
n_categories = len(all_categories)


def letterToIndex(letter):
    return all_letters.find(letter)


def lineToTensor(line):
    tensor = torch.zeros(len(line), 1, n_letters)
    for li, letter in enumerate(line):
        tensor[li][0][letterToIndex(letter)] = 1
    return tensor


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(RNN, self).__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(input_size + hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, input, hidden):
        combined = torch.cat((input, hidden), 1)
        hidden = self.i2h(combined)
        output = self.i2o(combined)
        output = self.softmax(output)
        return output, hidden

    def initHidden(self):
        return torch.zeros(1, self.hidden_size)


def categoryFromOutput(output):
    top_n, top_i = output.topk(1)
    category_i = top_i[0].item()
    return all_categories[category_i], category_i


random.seed(0)
torch.manual_seed(0)
n_hidden = 64
rnn = RNN(n_letters, n_hidden, n_categories)
criterion = nn.NLLLoss()
learning_rate = 0.005


def train(category_tensor, line_tensor):
    hidden = rnn.initHidden()
    rnn.zero_grad()
    for i in range(line_tensor.size()[0]):
        output, hidden = rnn(line_tensor[i], hidden)
    loss = criterion(output, category_tensor)
    loss.backward()
    for p in rnn.parameters():
        p.data.add_(p.grad.data, alpha=-learning_rate)
    return output, loss.item()


def randomTrainingExample():
    category = random.choice(all_categories)
    line = random.choice(category_lines[category])
    category_tensor = torch.tensor([all_categories.index(category)], dtype=torch.long)
    return category, line, category_tensor, lineToTensor(line)


assert lineToTensor("Jones").size() == (5, 1, n_letters)
losses = []
for it in range(1, 3001):
    category, line, category_tensor, line_tensor = randomTrainingExample()
    output, loss = train(category_tensor, line_tensor)
    losses.append(loss)
    if it % 1000 == 0:
        guess, guess_i = categoryFromOutput(output)
        print(f"{it} {sum(losses[-1000:]) / 1000:.4f} {line} / {guess} {'✓' if guess == category else '✗'}")

correct = 0
with torch.no_grad():
    for category in all_categories:
        for line in category_lines[category]:
            hidden = rnn.initHidden()
            line_tensor = lineToTensor(line)
            for i in range(line_tensor.size()[0]):
                output, hidden = rnn(line_tensor[i], hidden)
            correct += categoryFromOutput(output)[0] == category
accuracy = correct / sum(len(v) for v in category_lines.values())
print("training accuracy", accuracy)
assert sum(losses[-500:]) / 500 < sum(losses[:500]) / 500 * 0.7
assert accuracy > 0.6, accuracy
