"""The Streamlit review dashboard."""
