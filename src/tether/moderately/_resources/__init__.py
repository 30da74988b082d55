"""The resources of the Moderately AI client."""
