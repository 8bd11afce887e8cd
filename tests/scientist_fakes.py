"""A fake LLM that plays every stage of the scientist: ideas, novelty, edit blocks,
LaTeX sections and reviews (tests/ is on sys.path)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from fakes.llm_server import SeenRequest
from fakes.reviews import answer, review_dict

from scientist.templates import BUILTIN_DIR

IDEA = {
    "Name": "higher_lr",
    "Title": "Learning Rate Sensitivity of Tiny 2D Diffusion Models",
    "Experiment": "Raise the Adam learning rate and compare Chamfer distance.",
    "Interestingness": 4,
    "Feasibility": 9,
    "Novelty": 5,
}


def _train_edit(before: str, after: str) -> str:
    """An edit block that changes the arguments of the experiment's ``train`` line."""
    line = "def train(points, steps=50, train_steps=1500, {}):\n"
    return (f"experiment.py\n```python\n<<<<<<< SEARCH\n{line.format(before)}=======\n{line.format(after)}"
            ">>>>>>> REPLACE\n```\n")


LR_EDIT = _train_edit("lr=3e-3, seed=0", "lr=1e-2, seed=0")
SEED_EDIT = _train_edit("lr=1e-2, seed=0", "lr=1e-2, seed=1")
SEED_WEAKNESS = "Only one seed was run, so the variance is unknown."
LIMITATIONS_EDIT = (
    "latex/template.tex\n```latex\n<<<<<<< SEARCH\n\\section{Conclusions}\n=======\n\\section{Limitations}\n"
    "We study two small point sets only.\n\n\\section{Conclusions}\n>>>>>>> REPLACE\n```\n"
)


def _section(name: str, request: str) -> str:
    keys = re.findall(r"\\cite\{([^}]+)\}", request)
    body = {
        "Title": "Learning Rate Sensitivity of Tiny Diffusion Models",
        "Abstract": "We train a small diffusion model on 2D point sets with two learning rates.",
        "Related Work": f"Diffusion models were studied by \\citet{{{keys[0]}}}." if keys else "None.",
        "Results": ("Table of results from the notes.\n\\begin{figure}[h]\\centering\n"
                    "\\includegraphics[width=0.9\\linewidth]{train_loss.png}\n\\caption{Training loss.}\n\\end{figure}"),
    }.get(name, f"Text of the {name} section.")
    return f"Here it is.\n```latex\n{body}\n```"


def scientist_responder(review_overall=(3, 5), ask_for_seed=False):
    """``ask_for_seed``: the first review asks for another seed, and the decision asks for that run."""

    def respond(seen: SeenRequest):
        last = seen.last_user
        if "NEW IDEA JSON" in last:
            done = "I am done" if "Round" in last else ""
            return f"THOUGHT:\nA fine idea. {done}\n\nNEW IDEA JSON:\n```json\n{json.dumps(IDEA)}\n```"
        if "Decision made" in last:
            if "No search made yet" in last:
                return 'THOUGHT:\nSearch first.\n\nRESPONSE:\n```json\n{"Query": "diffusion learning rate"}\n```'
            return "THOUGHT:\nNothing overlaps. Decision made: novel.\n\nRESPONSE:\n```json\n{}\n```"
        if "NEW EXPERIMENT JSON" in last:
            plan = "Repeat run 1 with seed 1." if SEED_WEAKNESS in last else ""
            return f"THOUGHT:\nDecided.\n\nNEW EXPERIMENT JSON:\n```json\n{json.dumps({'Experiment': plan})}\n```"
        if "SEARCH/REPLACE" in seen.system or "SEARCH/REPLACE" in last:
            if "Implement the first run now" in last:
                return "Run 1 raises the learning rate.\n\n" + LR_EDIT
            if "respond with 'ALL_COMPLETED'" in last:
                return "ALL_COMPLETED"
            if "asked for another experiment" in last:
                return "A second seed.\n\n" + SEED_EDIT
            if "listed these weaknesses" in last:
                return "Adding a limitations section.\n\n" + LIMITATIONS_EDIT
            return "Nothing to change."
        section = re.search(r"(?:SECTION|REFLECT): (.+)", last)
        if section:
            return _section(section.group(1).strip(), seen.all_text)
        revised = "two small point sets only" in last
        weaknesses = ["There is no limitations section."] + ([SEED_WEAKNESS] if ask_for_seed and not revised else [])
        return answer(review_dict(review_overall[1] if revised else review_overall[0], Weaknesses=weaknesses))

    return respond


TINY_EXPERIMENT = """import argparse, json, random
from pathlib import Path


def train(points, steps=50, train_steps=1500, lr=3e-3, seed=0):
    rng = random.Random(seed)
    losses = [1.0 / (1 + lr * 100 * step) + rng.random() * 0.01 for step in range(0, train_steps, 100)]
    return losses, losses[-1] * 2


parser = argparse.ArgumentParser()
parser.add_argument("--out_dir", default=".")
out = Path(parser.parse_args().out_dir)
losses, chamfer = train([])
(out / "final_info.json").write_text(json.dumps({"dino": {"means": {"chamfer_distance": chamfer}}}))
(out / "curves.json").write_text(json.dumps({"dino": {"train_losses": losses}}))
"""
# A 1x1 grey PNG without matplotlib: signature, IHDR, IDAT, IEND chunks.
TINY_PLOT = """import argparse, struct, zlib
from pathlib import Path


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


parser = argparse.ArgumentParser()
parser.add_argument("--runs_dir", default=".")
parser.add_argument("--out_dir", default=".")
args = parser.parse_args()
runs = sorted(p.name for p in Path(args.runs_dir).glob("run_*"))
png = (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(b"\\x00\\x80")) + chunk(b"IEND", b""))
(Path(args.out_dir) / "train_loss.png").write_bytes(png)
(Path(args.out_dir) / "runs.txt").write_text("\\n".join(runs))
"""


def tiny_template(folder: Path) -> Path:
    """The built-in template with an experiment and plots that take a fraction of a second."""
    shutil.copytree(BUILTIN_DIR / "diffusion_2d", folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "experiment.py").write_text(TINY_EXPERIMENT)
    (folder / "plot.py").write_text(TINY_PLOT)
    return folder
