"""deepfake_core: everything deepfake-lens computes, with no Streamlit in sight."""
