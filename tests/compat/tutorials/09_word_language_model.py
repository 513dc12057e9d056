"""pytorch/examples' word language model: batchify with view/t/contiguous, get_batch with slicing,
an RNN model with tied weights, repackage_hidden with detach, clip_grad_norm_ and the hand update
p.data.add_(p.grad, alpha=-lr)."""
import math
import time

import neurona as torch
import neurona.nn as nn
import neurona.nn.functional as F


class Dictionary(object):
    def __init__(self):
        self.word2idx = {}
        self.idx2word = []

    def add_word(self, word):
        if word not in self.word2idx:
            self.idx2word.append(word)
            self.word2idx[word] = len(self.idx2word) - 1
        return self.word2idx[word]

    def __len__(self):
        return len(self.idx2word)


def tokenize(text, dictionary):
    idss = []
    for line in text.split("\n"):
        words = line.split() + ["<eos>"]
        ids = [dictionary.add_word(w) for w in words]
        idss.append(torch.tensor(ids).type(torch.int64))
    return torch.cat(idss)


class RNNModel(nn.Module):
    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
        super(RNNModel, self).__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            assert nhid == ninp
            self.decoder.weight = self.encoder.weight
        self.init_weights()
        self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output)
        decoded = decoded.view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == "LSTM":
            return (weight.new_zeros(self.nlayers, bsz, self.nhid), weight.new_zeros(self.nlayers, bsz, self.nhid))
        return weight.new_zeros(self.nlayers, bsz, self.nhid)


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    data = data.view(bsz, -1).t().contiguous()
    return data


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def get_batch(source, i, bptt=20):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i:i + seq_len]
    target = source[i + 1:i + 1 + seq_len].view(-1)
    return data, target


text = "\n".join(" ".join(["the cat sat on the mat", "a dog ran in the park", "the bird sang a song"][k % 3].split()
                          [:(k % 5) + 2]) for k in range(1500))
dictionary = Dictionary()
ids = tokenize(text, dictionary)
train_data = batchify(ids[: int(0.9 * len(ids))], 10)
val_data = batchify(ids[int(0.9 * len(ids)):], 5)

torch.manual_seed(1111)
ntokens = len(dictionary)
model = RNNModel("LSTM", ntokens, 32, 32, 2, dropout=0.2, tie_weights=True)
assert model.decoder.weight is model.encoder.weight
criterion = nn.NLLLoss()
lr, clip, bptt = 10.0, 0.25, 20


def evaluate(data_source):
    model.eval()
    total_loss = 0.
    hidden = model.init_hidden(5)
    with torch.no_grad():
        for i in range(0, data_source.size(0) - 1, bptt):
            data, targets = get_batch(data_source, i)
            output, hidden = model(data, hidden)
            hidden = repackage_hidden(hidden)
            total_loss += len(data) * criterion(output, targets).item()
    return total_loss / (len(data_source) - 1)


first = evaluate(val_data)
for epoch in range(1, 6):
    model.train()
    hidden = model.init_hidden(10)
    start_time = time.time()
    for batch, i in enumerate(range(0, train_data.size(0) - 1, bptt)):
        data, targets = get_batch(train_data, i)
        model.zero_grad()
        hidden = repackage_hidden(hidden)
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
    val_loss = evaluate(val_data)
    print(f"| end of epoch {epoch:3d} | time: {time.time() - start_time:5.2f}s | valid loss {val_loss:5.2f} | "
          f"valid ppl {math.exp(val_loss):8.2f}")
assert val_loss < first - 0.5, (first, val_loss)
