"""RunPod pods from the panel: the API key, launching on-demand pods, moving a session."""
