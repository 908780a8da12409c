"""Explain (placeholder until deepfake_core.explain lands)."""

import streamlit as st

st.title("Explain")
