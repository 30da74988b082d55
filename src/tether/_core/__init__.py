"""Platform-neutral core: transport, errors, models, jobs, MQTT and the blocking facade."""
