"""The drawing web app: draw or upload a digit in the browser and see what the model reads."""
