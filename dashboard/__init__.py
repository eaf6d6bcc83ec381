"""The Streamlit dashboard: reads through results/ only."""
