"""What the brain (bot/) and the console share, below the handlers: reports, notices,
geography, pilot rules, privacy, audit, media, texts and settings. Imports models/ only."""
