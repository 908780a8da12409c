"""Home: what deepfake-lens is, what each page does, and what its verdicts cannot tell."""

from __future__ import annotations

import streamlit as st

from deepfake_core.kinds import describe_kinds
from pages import model_choice, shell

shell.page_setup()
st.title("deepfake-lens")
st.markdown(
    "Tells whether a **face** is **Real** or **Fake** (generated or manipulated), with a calibrated probability, "
    "and shows **why**: which parts of the face the verdict rests on."
)

card = model_choice.chosen_card()
seen = card.seen_kinds if card else {}
if seen:
    trained_on = (
        f"- **The selected model, `{card.name}`, has seen** fakes from {describe_kinds(seen.get('Fake', []))}; "
        f"and real faces from {describe_kinds(seen.get('Real', []))}. Every other generator (SDXL, Flux, "
        "DALL-E 3, StyleGAN3, other face-swap tools, ...) is unseen.\n"
    )
elif card and card.limitations:  # older cards: the first limitation names what the model was trained on
    trained_on = f"- **The selected model, `{card.name}`:** {card.limitations[0]}\n"
else:
    trained_on = ""
if card and card.familiarity:
    trained_on += (
        "- Faces **unlike the training faces** are flagged, and their verdict is shown as unreliable. "
        f"The flag is tuned to fire on {card.familiarity.validation_flagged:.0%} of the model's own validation "
        "faces and misses many faces of unseen generators: no flag is no guarantee.\n"
    )
st.warning(
    "**Limitations — read before trusting a verdict.**\n\n"
    "- A model knows only the kinds of fakes it was trained on; on a generator it never saw, a confident "
    "verdict can be confidently wrong.\n"
    f"{trained_on}"
    "- A model **with a face step** (see the Model page) finds every face, aligns it and judges **each face** "
    "on its own; a picture without a face gets no verdict at all. A model **without** one judges the whole "
    "image: it works on a **single, roughly centred face**, and group photos, full scenes, cartoons and "
    "non-faces get a verdict anyway, which is meaningless.\n"
    "- The output is **a probability, not proof**. Use it to prioritise what a person looks at, never as "
    "evidence on its own.",
    icon=":material/warning:",
)

st.subheader("Pages")
pages = (
    (
        "pages/classify.py",
        "Upload one or many images (or try a sample) and get a verdict, P(fake) and the "
        "calibrated confidence for each face (or the whole image), and a table you can download.",
    ),
    (
        "pages/explain.py",
        "See where the model looked: its attention mask, Grad-CAM and LIME, side by side, on the face it "
        "judged (and back on the photo), with downloads and the matching command line.",
    ),
    (
        "pages/robustness_lab.py",
        "See how fragile a verdict is: your photo re-compressed, blurred, shrunk and made noisy at growing "
        "strengths, with P(fake) at each and where the verdict flips.",
    ),
    (
        "pages/evaluation.py",
        "Stored test results: ROC and precision-recall curves, confusion matrix (and the test images it got "
        "wrong), calibration, per-kind accuracy and the hard FFHQ vs StyleGAN2 pair, all at a threshold you choose.",
    ),
    (
        "pages/model.py",
        "The model card: architecture, preprocessing contract, training data and licences, "
        "limitations, and a comparison with the other stored models and the thesis' reported figures.",
    ),
)
for path, description in pages:
    with st.container(border=True):
        st.page_link(path)
        st.caption(description)

st.caption("Uploaded images are processed in memory and never written to disk. Choose the model in the sidebar.")
