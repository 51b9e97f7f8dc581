"""What community groups put in, and the people behind it: accounts, sign-in sessions,
community assets with moderation, bulk import and opening times."""
