"""The main window: menus and actions, the status bar, window state, settings, the model catalog, one window per library, screenshots."""
