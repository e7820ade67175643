"""The online fraud scoring API: `serving.app.create_app(ServingSettings.from_env())`, run by
`python -m serving` (`make serve`). See README.md, "Online scoring API".

Nothing is imported here: the stream consumers use the API's schemas and model holder without
loading FastAPI."""
