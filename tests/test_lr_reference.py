"""Our LR against scikit-learn's logistic regression on the same features: RelaImpr's base is a real LR.

Every RelaImpr (the AUC gate's `min_relaimpr`, Tables 2 and 4) is measured over
our LR, so an under-trained LR flatters every model. The reference is a standard
L2 logistic regression on the same one-hot design (each categorical field, the
tags pooled by their mean as our embedding pools them, the dense features and
the list counts, the items and tags placed above the impression pooled by their
mean), its C chosen on the validation lists only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from hrlrec import config, metrics, train
from hrlrec.data import batches
from hrlrec.data.batches import UNKNOWN
from hrlrec.models.baselines.common import BASELINE_FIELDS, list_counts
from tests.conftest import TRAIN_DAYS, model_config, workspace

DS = TRAIN_DAYS[-1]


def design(stream: batches.Stream, rows: np.ndarray, history_len: int, list_len: int) -> sp.csr_matrix:
    """The LR's features of stream `rows` as a sparse matrix: one-hot fields, mean-pooled tags, dense with
    the list counts, then the items and tags placed above each impression (mean one-hot, tags mean-pooled)."""
    batch = batches.impression_batch(stream, rows, history_len, list_len)
    cat, before = batch.cat.numpy(), batch.before_cat.numpy()
    vocab, n = stream.meta["vocab"], len(rows)
    tag_cols = [i for i, c in enumerate(stream.cat_columns) if c.startswith("tag")]
    counts = list_counts(batch, stream.column("channel"), tag_cols, list_len).numpy()

    def bag(ids: np.ndarray, weights: np.ndarray, size: int) -> sp.csr_matrix:
        """Rows of sum_j weights[:, j] * onehot(ids[:, j])."""
        r = np.repeat(np.arange(n), ids.shape[1])
        m = sp.csr_matrix((weights.ravel(), (r, ids.ravel())), shape=(n, size))
        m.sum_duplicates()
        return m

    def tag_mean(ids: np.ndarray) -> np.ndarray:
        return (ids > 0) / np.maximum((ids > 0).sum(-1, keepdims=True), 1)

    blocks = []
    for field in BASELINE_FIELDS:
        if field == "dense":
            blocks.append(sp.csr_matrix(np.hstack([stream.dense[rows].cpu().numpy(), counts]).astype(np.float64)))
        elif field == "tags":
            blocks.append(bag(cat[:, tag_cols], tag_mean(cat[:, tag_cols]), vocab["tag"]))
        else:
            ids = cat[:, stream.column(field)]
            blocks.append(sp.csr_matrix((np.ones(n), (np.arange(n), ids)), shape=(n, vocab[field])))
    earlier = (batch.before_feedback == UNKNOWN).numpy()
    weight = earlier / np.maximum(earlier.sum(1, keepdims=True), 1)  # (n, L): mean over the list above
    blocks.append(bag(before[..., stream.column("item")], weight, vocab["item"]))
    tags = before[..., tag_cols]  # (n, L, T)
    blocks.append(bag(tags.reshape(n, -1), (weight[..., None] * tag_mean(tags)).reshape(n, -1), vocab["tag"]))
    return sp.hstack(blocks, format="csr")


@pytest.mark.slow
def test_our_lr_is_within_half_a_point_of_scikit_learns(trained_workspace: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "ws"
    shutil.copytree(trained_workspace, root)
    # The default epoch budget and patience (train.baseline_epochs, train.patience), not the suite's one epoch.
    base = config.load(None)
    ws = workspace(root, model_config(f"train.baseline_epochs={base.train.baseline_epochs}",
                                      f"train.patience={base.train.patience}"))  # fmt: skip
    ours = train.run(ws, DS, models=["lr"], progress=False).models["lr"]

    stream = batches.load(ws.layout.dataset_day(DS))
    split = {s: stream.rows(stream.lists(s)) for s in ("train", "val", "test")}
    window = (ws.cfg.active.history_len, ws.cfg.list_len)
    x = {s: design(stream, r, *window) for s, r in split.items()}
    y = {s: stream.clicked[r].cpu().numpy().astype(int) for s, r in split.items()}
    best = None
    for c in (0.01, 0.03, 0.1, 0.3, 1.0):  # chosen on the validation lists, never the test day
        model = LogisticRegression(C=c, max_iter=2000).fit(x["train"], y["train"])
        val_auc = metrics.auc(y["val"], model.predict_proba(x["val"])[:, 1])
        if best is None or val_auc > best[0]:
            best = (val_auc, c, model)
    _, c, reference = best
    ref_auc = metrics.auc(y["test"], reference.predict_proba(x["test"])[:, 1])
    assert ours["auc"] >= ref_auc - 0.005, (ours["auc"], ref_auc, c, ours["epochs"])
    # Trained to convergence: early stopping ended it before the budget ran out.
    assert ours["epochs"] < ws.cfg.train.baseline_epochs, ours


def test_lr_weight_decay_is_scikit_learns_penalty_for_the_windows_size(trained_workspace: Path) -> None:
    from hrlrec.models import factory
    from hrlrec.models.spec import ModelSpec
    from hrlrec.train import features_of
    from hrlrec.train.loop import _weight_decay

    cfg = model_config("train.lr_c=0.5", "train.weight_decay=0.001")
    stream = batches.load(workspace(trained_workspace).layout.dataset_day(DS))
    n = len(stream.rows(stream.lists("train")))
    spec, features = ModelSpec.of(cfg), features_of(stream)
    assert _weight_decay(factory.build("lr", spec, features), cfg, stream) == pytest.approx(1 / (0.5 * n))
    assert _weight_decay(factory.build("fm", spec, features), cfg, stream) == 0.001  # the others: train.weight_decay
    unset = model_config("train.lr_c=null", "train.weight_decay=0.001")
    assert _weight_decay(factory.build("lr", spec, features), unset, stream) == 0.001


def test_lr_takes_its_own_step_size_and_the_others_keep_theirs(trained_workspace: Path) -> None:
    from hrlrec.models import factory
    from hrlrec.models.spec import ModelSpec
    from hrlrec.train import features_of
    from hrlrec.train.loop import _learning_rate

    cfg = model_config("train.lr_learning_rate=0.02", "train.learning_rate=0.005")
    stream = batches.load(workspace(trained_workspace).layout.dataset_day(DS))
    spec, features = ModelSpec.of(cfg), features_of(stream)
    assert _learning_rate(factory.build("lr", spec, features), cfg) == 0.02
    for other in ("fm", "hrlrec"):
        assert _learning_rate(factory.build(other, spec, features), cfg) == 0.005
    unset = model_config("train.lr_learning_rate=null", "train.learning_rate=0.005")
    assert _learning_rate(factory.build("lr", spec, features), unset) == 0.005
