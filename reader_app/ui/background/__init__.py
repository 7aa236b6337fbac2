"""Work off the GUI thread: jobs with their own signals, operations, and the one worker that owns the model."""
