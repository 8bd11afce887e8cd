"""A fake LLM that plays every stage of the scientist: ideas, novelty, edit blocks,
LaTeX sections and reviews (tests/ is on sys.path)."""

from __future__ import annotations

import json
import re

from fakes.llm_server import SeenRequest
from fakes.reviews import answer, review_dict

IDEA = {
    "Name": "higher_lr",
    "Title": "Learning Rate Sensitivity of Tiny 2D Diffusion Models",
    "Experiment": "Raise the Adam learning rate and compare Chamfer distance.",
    "Interestingness": 4,
    "Feasibility": 9,
    "Novelty": 5,
}
LR_EDIT = "experiment.py\n```python\n<<<<<<< SEARCH\ndef train(points, steps=50, train_steps=1500, lr=3e-3, seed=0):\n=======\ndef train(points, steps=50, train_steps=1500, lr=1e-2, seed=0):\n>>>>>>> REPLACE\n```\n"
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


def scientist_responder(review_overall=(3, 5)):
    def respond(seen: SeenRequest):
        last = seen.last_user
        if "NEW IDEA JSON" in last:
            done = "I am done" if "Round" in last else ""
            return f"THOUGHT:\nA fine idea. {done}\n\nNEW IDEA JSON:\n```json\n{json.dumps(IDEA)}\n```"
        if "Decision made" in last:
            if "No search made yet" in last:
                return 'THOUGHT:\nSearch first.\n\nRESPONSE:\n```json\n{"Query": "diffusion learning rate"}\n```'
            return "THOUGHT:\nNothing overlaps. Decision made: novel.\n\nRESPONSE:\n```json\n{}\n```"
        if "SEARCH/REPLACE" in seen.system or "SEARCH/REPLACE" in last:
            if "Implement the first run now" in last:
                return "Run 1 raises the learning rate.\n\n" + LR_EDIT
            if "respond with 'ALL_COMPLETED'" in last:
                return "ALL_COMPLETED"
            if "listed these weaknesses" in last:
                return "Adding a limitations section.\n\n" + LIMITATIONS_EDIT
            return "Nothing to change."
        section = re.search(r"(?:SECTION|REFLECT): (.+)", last)
        if section:
            return _section(section.group(1).strip(), seen.all_text)
        overall = review_overall[1] if "two small point sets only" in last else review_overall[0]
        return answer(review_dict(overall, Weaknesses=["There is no limitations section."]))

    return respond
