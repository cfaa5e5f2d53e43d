"""Configuration of the service: read once from the environment and .env."""
