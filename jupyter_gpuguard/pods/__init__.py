"""RunPod, in one home: its GraphQL API, the API key, and the pods launched, moved and
templated from the panel. Nothing here imports instance/ or server/; both build on it."""
