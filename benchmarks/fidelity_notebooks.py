"""The notebooks of bench_fidelity.py: cells as a user would write them, and checks.

Each notebook is a list of cell sources, run one by one in a real kernel, and behavioural
checks: snippets run after the variables are compared, in a copy of the namespace, each
setting ``result`` (JSON-able). A check passes after a restore when its result equals the
original kernel's; they run in order, so a check may build on the effects of the ones
before it (``optimizer.step()``), the same in every kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Notebook:
    key: str
    title: str
    cells: list[str]
    checks: list[tuple[str, str]] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)  # modules it cannot run without


def torch_training(quick: bool) -> Notebook:
    samples, epochs = (128, 2) if quick else (512, 3)
    cells = [
        """import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)""",
        f"""X = torch.randn({samples}, 8)
true_w = torch.randn(8, 1)
Y = X @ true_w + 0.1 * torch.randn({samples}, 1)
dataset = TensorDataset(X, Y)
loader = DataLoader(dataset, batch_size=32, shuffle=True)""",
        """class Scale(nn.Module):
    \"\"\"A learned per-feature scale, with a buffer counting forward calls.\"\"\"

    def __init__(self, n):
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(n))
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    def forward(self, x):
        self.calls += 1
        return x * self.log_scale.exp()


model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), Scale(16), nn.Linear(16, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
loss_fn = nn.MSELoss()""",
        f"""losses = []
for epoch in range({epochs}):
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
    scheduler.step()
    losses.append(loss.item())
losses""",
        """w = model[0].weight
b = model[0].bias
scale = model[2]
head = model[3]
params = list(model.parameters())
state = model.state_dict()
batches = iter(loader)
first_batch = next(batches)""",
    ]
    checks = [
        (
            "optimizer holds the model's parameters",
            "result = all(p is q for p, q in "
            "zip(model.parameters(), optimizer.param_groups[0]['params'], strict=True))",
        ),
        ("optimizer state keyed by them", "result = all(p in optimizer.state for p in params)"),
        ("scheduler.optimizer is optimizer", "result = scheduler.optimizer is optimizer"),
        ("w is model[0].weight", "result = w is model[0].weight"),
        ("loader.dataset.tensors[0] is X", "result = loader.dataset.tensors[0] is X"),
        ("isinstance(model[2], Scale)", "result = isinstance(model[2], Scale)"),
        (
            "a training step moves the model",
            """import hashlib
before = [p.detach().clone() for p in model.parameters()]
optimizer.zero_grad()
loss_fn(model(X[:64]), Y[:64]).backward()
optimizer.step()
scheduler.step()
moved = [bool((a != p).any()) for a, p in zip(before, model.parameters(), strict=True)]
digest = hashlib.sha256(
    b"".join(p.detach().numpy().tobytes() for p in model.parameters())
).hexdigest()[:16]
result = [moved, digest, scheduler.get_last_lr(), int(model[2].calls)]""",
        ),
    ]
    return Notebook("a", "PyTorch training loop", cells, checks, requires=["torch"])


def pandas_analysis(quick: bool) -> Notebook:
    rows = 60 if quick else 200
    cells = [
        """import numpy as np
import pandas as pd
from dataclasses import dataclass""",
        """@dataclass
class Point:
    x: float
    y: float

    def norm(self):
        return (self.x**2 + self.y**2) ** 0.5


class Customer:
    def __init__(self, name, tier):
        self.name = name
        self.tier = tier

    def __repr__(self):
        return f"Customer({self.name!r}, {self.tier!r})\"""",
        f"""rng = np.random.default_rng(0)
n = {rows}
points = [Point(float(a), float(b)) for a, b in rng.normal(size=(n, 2))]
customers = [Customer(f"c{{i}}", ["gold", "silver", "bronze"][i % 3]) for i in range(20)]
df = pd.DataFrame(
    {{
        "point": points,
        "customer": [customers[i % 20] for i in range(n)],
        "amount": rng.gamma(2.0, 10.0, n).round(2),
        "day": pd.date_range("2024-01-01", periods=n, freq="h"),
    }}
)
df["norm"] = df["point"].map(Point.norm)
df.head()""",
        """arr = np.empty(len(points), dtype=object)
arr[:] = points
grid = np.array(points[:12], dtype=object).reshape(3, 4)
tiers = df["customer"].map(lambda c: c.tier)
by_tier = df.groupby(tiers)["amount"].agg(["sum", "mean", "count"])
top = df.nlargest(5, "amount")
far = df[df["norm"] > 1.5]
best_customer = df.loc[df["amount"].idxmax(), "customer"]
origin = Point(0.0, 0.0)
by_tier""",
    ]
    checks = [
        ("isinstance(arr[0], Point)", "result = isinstance(arr[0], Point)"),
        ("isinstance(df.point[0], Point)", "result = isinstance(df['point'].iloc[0], Point)"),
        ("isinstance(grid[1, 2], Point)", "result = isinstance(grid[1, 2], Point)"),
        ("arr[0] is points[0]", "result = arr[0] is points[0]"),
        ("df.point[0] is points[0]", "result = df['point'].iloc[0] is points[0]"),
        ("best_customer in customers", "result = any(c is best_customer for c in customers)"),
        (
            "top customers are the customers",
            "result = all(any(c is t for c in customers) for t in top['customer'])",
        ),
        ("points still compute", "result = round(float(df['point'].map(Point.norm).sum()), 9)"),
        ("group sums", "result = [round(float(v), 6) for v in by_tier['sum']]"),
        ("origin == Point(0, 0)", "result = origin == Point(0.0, 0.0)"),
    ]
    return Notebook("b", "pandas analysis with notebook classes", cells, checks)


def sklearn_pipeline(quick: bool) -> Notebook:
    samples = 200 if quick else 600
    cells = [
        """import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler""",
        """class ClipOutliers(BaseEstimator, TransformerMixin):
    \"\"\"Clips each feature to mean +- k standard deviations of the training data.\"\"\"

    def __init__(self, k=3.0):
        self.k = k

    def fit(self, X, y=None):
        self.mean_ = X.mean(axis=0)
        self.std_ = X.std(axis=0)
        return self

    def transform(self, X):
        return np.clip(X, self.mean_ - self.k * self.std_, self.mean_ + self.k * self.std_)


class Shifted:
    \"\"\"A plain class with fit/transform: shifts every feature to start at 1.\"\"\"

    def fit(self, X, y=None):
        self.shift_ = 1.0 - X.min(axis=0)
        return self

    def transform(self, X):
        return X + self.shift_""",
        f"""X, y = make_classification(n_samples={samples}, n_features=10, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
pipe = Pipeline(
    [
        ("clip", ClipOutliers(2.5)),
        ("shift", Shifted()),
        ("scale", StandardScaler()),
        ("clf", LogisticRegression(max_iter=500)),
    ]
)
pipe.fit(X_train, y_train)
clip = pipe.named_steps["clip"]
score = pipe.score(X_test, y_test)
proba = pipe.predict_proba(X_test[:5])
score""",
    ]
    checks = [
        (
            "isinstance(pipe[0], ClipOutliers)",
            "result = isinstance(pipe.steps[0][1], ClipOutliers)",
        ),
        ("isinstance(pipe[1], Shifted)", "result = isinstance(pipe.steps[1][1], Shifted)"),
        ("clip is pipe[0]", "result = clip is pipe.steps[0][1]"),
        (
            "predictions",
            "import hashlib\nresult = hashlib.sha256("
            "pipe.predict_proba(X_test).round(10).tobytes()).hexdigest()[:16]",
        ),
        ("score", "result = float(pipe.score(X_test, y_test))"),
        (
            "refit on the restored data",
            "result = round(float(pipe.fit(X_train, y_train).score(X_test, y_test)), 12)",
        ),
    ]
    return Notebook(
        "c", "scikit-learn pipeline with a notebook transformer", cells, checks, ["sklearn"]
    )


def live_objects(quick: bool) -> Notebook:
    rows = 40 if quick else 100
    cells = [
        """import functools
import itertools
import re
import sqlite3""",
        f"""with open("readings.csv", "w") as out:
    out.write("id,value\\n")
    for i in range({rows}):
        out.write(f"{{i}},{{i * i % 17}}\\n")""",
        """handle = open("readings.csv")
header = handle.readline()
first_rows = [handle.readline() for _ in range(10)]""",
        """def squares(limit):
    for i in range(limit):
        yield i * i


gen = squares(50)
taken = [next(gen) for _ in range(5)]
letters = list("abcdefghij")
letter_iter = iter(letters)
skipped = [next(letter_iter) for _ in range(3)]
counter = itertools.count(10)
start = next(counter)""",
        f"""conn = sqlite3.connect(":memory:")
conn.execute("CREATE TABLE readings (id INTEGER PRIMARY KEY, value INTEGER)")
conn.executemany(
    "INSERT INTO readings VALUES (?, ?)", [(i, i * i % 17) for i in range({rows})]
)
conn.commit()
cursor = conn.execute("SELECT id, value FROM readings ORDER BY id")
head_rows = cursor.fetchmany(4)""",
        """class Accumulator:
    def __init__(self):
        self.items = []

    def add(self, x):
        self.items.append(x)
        return len(self.items)


acc = Accumulator()
m = acc.add
for v in (1, 2, 3):
    m(v)
rows = []
add = rows.append
for r in head_rows:
    add(r)


def scale(data, factor):
    return [factor * v for v in data]


data = [v for _, v in head_rows]
scale_data = functools.partial(scale, data)
doubled = scale_data(2)
pattern = re.compile(r"(\\d+),(\\d+)")
match = pattern.match(first_rows[3])""",
    ]
    checks = [
        ("m.__self__ is acc", "result = m.__self__ is acc"),
        ("add.__self__ is rows", "result = add.__self__ is rows"),
        ("scale_data.args[0] is data", "result = scale_data.args[0] is data"),
        ("m(99) appends to acc", "result = [m(99), acc.items[-1]]"),
        ("add(...) appends to rows", "add('x')\nresult = [len(rows), rows[-1]]"),
        ("partial sees data change", "data.append(100)\nresult = scale_data(1)[-1]"),
        ("next(letter_iter)", "result = next(letter_iter)"),
        ("next(gen)", "result = next(gen)"),
        ("handle.readline()", "result = handle.readline()"),
        ("readings.csv intact", "import os\nresult = os.path.getsize('readings.csv')"),
        ("cursor.fetchone()", "result = list(cursor.fetchone())"),
        (
            "conn query",
            "result = list(conn.execute('SELECT count(*), sum(value) FROM readings').fetchone())",
        ),
        ("match.groups()", "result = list(match.groups())"),
    ]
    return Notebook("d", "generators, files and a database connection", cells, checks)


def typed_data(quick: bool) -> Notebook:
    count = 4 if quick else 8
    cells = [
        """import enum
from dataclasses import dataclass, field
from typing import NamedTuple, Optional, TypedDict""",
        """class Color(enum.Enum):
    RED = 1
    GREEN = 2
    BLUE = 3


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Perm(enum.Flag):
    R = 4
    W = 2
    X = 1


class Pixel(NamedTuple):
    x: int
    y: int
    color: Color

    def moved(self, dx):
        return self._replace(x=self.x + dx)


class Config(TypedDict):
    name: str
    retries: int
    color: Color


@dataclass
class Task:
    title: str
    priority: Priority
    tags: list = field(default_factory=list)
    parent: Optional["Task"] = None


@dataclass(frozen=True)
class Version:
    major: int
    minor: int""",
        f"""favourite = Color.RED
palette = [Color.RED, Color.GREEN, Color.BLUE]
by_color = {{c: c.value * 10 for c in Color}}
pixels = [Pixel(i, 2 * i, palette[i % 3]) for i in range({count})]
config: Config = {{"name": "run", "retries": 3, "color": Color.BLUE}}
root_task = Task("root", Priority.HIGH, ["a"])
tasks = [root_task] + [Task(f"t{{i}}", Priority.LOW, parent=root_task) for i in range({count})]
index = {{t.title: t for t in tasks}}
mode = Perm.R | Perm.W
versions = {{Version(1, 2): "old", Version(2, 0): "new"}}""",
    ]
    checks = [
        ("Color.RED is Color(1)", "result = Color.RED is Color(1)"),
        ("favourite is Color.RED", "result = favourite is Color.RED"),
        ("pixels[0].color is Color.RED", "result = pixels[0].color is Color.RED"),
        ("isinstance(pixels[0], Pixel)", "result = isinstance(pixels[0], Pixel)"),
        ("pixels[1].moved(2)", "result = list(pixels[1].moved(2)[:2])"),
        ("by_color[Color.RED]", "result = by_color.get(Color.RED)"),
        ("config['color'] is Color.BLUE", "result = config['color'] is Color.BLUE"),
        ("tasks[1].parent is root_task", "result = tasks[1].parent is root_task"),
        ("index['root'] is root_task", "result = index['root'] is root_task"),
        ("isinstance(tasks[0], Task)", "result = isinstance(tasks[0], Task)"),
        ("priority is Priority.HIGH", "result = root_task.priority is Priority.HIGH"),
        ("Perm.R in mode", "result = Perm.R in mode"),
        ("Version(1, 2) in versions", "result = Version(1, 2) in versions"),
    ]
    return Notebook("e", "enums, NamedTuples, TypedDicts and dataclasses", cells, checks)


def notebooks(quick: bool) -> list[Notebook]:
    return [
        torch_training(quick),
        pandas_analysis(quick),
        sklearn_pipeline(quick),
        live_objects(quick),
        typed_data(quick),
    ]
