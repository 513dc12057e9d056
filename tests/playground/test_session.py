"""The page's protocol, message by message, without a network in between."""
from __future__ import annotations

import base64

import numpy as np
import pytest

from neurona.playground.config import Limits
from neurona.playground.session import PlaygroundError, Session
from neurona.playground.training import GRID


def types(reply):
    return [m["type"] for m in reply.messages]


@pytest.fixture
def session():
    s = Session(sid="test")
    s.handle({"type": "hello"})
    return s


def test_hello_sends_the_settings_and_the_points(session):
    r = session.handle({"type": "hello"})
    assert types(r) == ["config", "data"] and r.frame
    data = r.messages[1]
    assert len(data["points"]) == 500 and data["train"] == 250 and data["classes"] == 2
    x, y, label, train = data["points"][0]
    assert -6 <= x <= 6 and label in (0, 1) and isinstance(train, bool)


def test_a_frame_holds_what_the_page_draws(session):
    f = session.frame()
    (a,) = f["runs"]
    assert a["epoch"] == 0 and a["train_loss"] > 0 and a["curve"][0][0] == 0
    assert len(base64.b64decode(a["boundary"]["cls"])) == GRID * GRID
    assert [len(layer) for layer in a["neurons"]] == [4, 2]
    assert [np.array(w["w"]).shape for w in a["weights"]] == [(4, 2), (2, 4), (2, 2)]
    assert a["histograms"]["layers"] and a["residual"] == [False, False]
    assert "inspect" not in a


def test_settings_changes(session):
    r = session.handle({"type": "config", "config": {"dataset": "spiral", "classes": 3}})
    assert types(r) == ["config", "data"] and r.messages[1]["classes"] == 3
    assert session.runs["A"].model.out_features == 3
    r = session.handle({"type": "config", "config": {"hidden": [8, 8, 8], "activation": "relu"}})
    assert types(r) == ["config"] and session.runs["A"].model.hidden_sizes == [8, 8, 8]
    session.handle({"type": "step"})
    w = session.runs["A"].model.linears()[0].weight.array.copy()
    r = session.handle({"type": "config", "config": {"lr": 0.3, "optimizer": "sgd"}})  # live: the network stays
    assert session.runs["A"].epoch == 1 and session.runs["A"].optimizer.param_groups[0]["lr"] == 0.3
    np.testing.assert_array_equal(session.runs["A"].model.linears()[0].weight.array, w)
    r = session.handle({"type": "config", "config": {"ratio": 80}})
    assert r.messages[1]["train"] == 400 and session.runs["A"].epoch == 0
    assert session.handle({"type": "config", "config": {"ratio": 80}}).frame is False  # nothing changed


def test_refusals_name_the_setting(session):
    with pytest.raises(PlaygroundError) as e:
        session.handle({"type": "config", "config": {"hidden": [8] * 11}})
    assert e.value.key == "hidden" and "at most 10" in str(e.value)
    assert session.config.hidden == [4, 2]  # nothing changed
    for msg in ({"type": "nope"}, {"type": "add_point", "x": 7, "y": 0, "label": 0},
                {"type": "add_point", "x": 0, "y": 0, "label": 5}, {"type": "compare", "on": "yes"},
                {"type": "config", "config": {"dataset": "custom"}}, {"type": "upload", "text": 3}):
        with pytest.raises(PlaygroundError):
            session.handle(msg)


def test_problem_type_and_regression(session):
    r = session.handle({"type": "config", "config": {"problem": "regression", "dataset": "multigauss",
                                                     "loss": "squared_error"}})
    assert r.messages[1]["task"] == "regression"
    assert session.frame()["runs"][0]["boundary"]["kind"] == "value"
    session.handle({"type": "add_point", "x": 1.0, "y": 1.0, "label": 0.5})
    assert session.data.task == "regression" and session.config.dataset == "custom"


def test_step_play_pause(session):
    session.handle({"type": "step"})
    assert session.runs["A"].epoch == 1 and not session.playing
    session.handle({"type": "play"})
    f = session.advance(0.05)
    assert f["playing"] and f["runs"][0]["steps"] > 25
    assert session.advance(0.01, frame=False) is None
    session.handle({"type": "pause"})
    steps = session.runs["A"].steps
    session.advance(0.02)
    assert session.runs["A"].steps == steps


def test_reset_draws_new_weights_and_keeps_them_in_the_settings(session):
    session.handle({"type": "step"})
    old = session.config.wseed
    r = session.handle({"type": "reset"})
    assert session.runs["A"].epoch == 0 and r.messages[0]["config"]["wseed"] == session.config.wseed != old


def test_regenerate_draws_new_points(session):
    before = session.data.X.copy()
    session.handle({"type": "regenerate"})
    assert not np.array_equal(before, session.data.X)


def test_points_added_by_clicking(session):
    r = session.handle({"type": "add_point", "x": 1.5, "y": -2.0, "label": 1})
    assert types(r) == ["config", "data"] and session.config.dataset == "custom"
    assert len(session.data) == 501 and session.data.train[-1] and session.data.y[-1] == 1
    np.testing.assert_allclose(session.data.view[-1], [1.5, -2.0])
    session.handle({"type": "step"})
    session.handle({"type": "add_point", "x": 0.0, "y": 0.0, "label": 0})  # goes on training the same network
    assert session.runs["A"].epoch == 1 and len(session.data) == 502
    session.handle({"type": "clear_points"})
    assert len(session.data) == 0
    with pytest.raises(PlaygroundError, match="no training points"):
        session.handle({"type": "play"})
    session.handle({"type": "add_point", "x": 1.0, "y": 1.0, "label": 0})
    session.handle({"type": "add_point", "x": -1.0, "y": -1.0, "label": 1})
    session.handle({"type": "step"})
    assert session.frame()["runs"][0]["test_loss"] is None  # no test points yet


def test_point_limit():
    s = Session(Limits(max_points=500))
    with pytest.raises(PlaygroundError, match="at most 500 points"):
        s.handle({"type": "add_point", "x": 0, "y": 0, "label": 0})


def test_upload(session):
    text = "x1,x2,label\n" + "\n".join(f"{i % 7},{i % 5},{'ab'[i % 2]}" for i in range(40))
    r = session.handle({"type": "upload", "name": "mine.csv", "text": text})
    assert types(r) == ["config", "data", "notice"] and "40 points, 2 classes" in r.messages[2]["message"]
    assert session.config.dataset == "custom" and session.data.class_names == ["a", "b"]
    with pytest.raises(PlaygroundError, match="line 2"):
        session.handle({"type": "upload", "name": "bad.csv", "text": "1,2,0\n1,2\n"})
    small = Session(Limits(max_upload_bytes=100))
    with pytest.raises(PlaygroundError, match="limit is 100"):
        small.handle({"type": "upload", "name": "big.csv", "text": "1,2,0\n" * 30})


def test_inspect_a_point(session):
    session.handle({"type": "config", "config": {"hidden": [3]}})
    session.handle({"type": "inspect", "x": 0.1, "y": 0.2})
    ins = session.frame()["runs"][0]["inspect"]
    d = np.sum((session.data.view - [0.1, 0.2]) ** 2, axis=1)
    assert ins["index"] == int(np.argmin(d)) and ins["method"] == "classic"
    assert [len(layer["delta"]) for layer in ins["layers"]] == [3, 2] and len(ins["inputs"]) == 2
    session.handle({"type": "inspect", "clear": True})
    assert "inspect" not in session.frame()["runs"][0]


def test_compare_two_settings_on_the_same_points(session):
    session.handle({"type": "step"})
    r = session.handle({"type": "compare", "on": True})
    assert r.messages[0]["compare"] == session.config.to_dict()
    session.handle({"type": "config", "config": {"optimizer": "adam", "lr": 0.01}})
    a, b = session.runs["A"], session.runs["B"]
    assert a.config.optimizer == "adam" and b.config.optimizer == "sgd" and a.data is b.data
    session.handle({"type": "play"})
    for _ in range(3):
        f = session.advance(0.03)
    assert [r["name"] for r in f["runs"]] == ["A", "B"]
    assert abs(a.progress - b.progress) <= 1.0  # trained in step
    session.handle({"type": "config", "config": {"dataset": "xor"}})
    assert b.config.dataset == "xor" and b.config.optimizer == "sgd"
    session.handle({"type": "compare", "on": False})
    assert list(session.runs) == ["A"]


def test_downloads(session):
    assert session.model_file()[:2] == b"PK"
    assert "def train(" in session.python_code()
    with pytest.raises(PlaygroundError, match="no run 'B'"):
        session.model_file("B")


def test_early_stopping_pauses_and_says_why(session):
    session.handle({"type": "config", "config": {"dataset": "xor", "hidden": [8], "optimizer": "adam", "lr": 1.0,
                                                 "early_stopping": True, "patience": 1}})
    session.handle({"type": "play"})
    for _ in range(200):
        f = session.advance(0.02)
        if not session.playing:
            break
    assert not session.playing and any("early stopping" in n for n in f["notices"])
    session.handle({"type": "play"})  # and playing again goes on
    assert session.playing and session.runs["A"].stopped is None
