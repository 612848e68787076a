"""gunicorn settings for the console's browser tests: run:app with the console wired in, for
as long as the factory does not list it among its features itself."""


def post_worker_init(worker) -> None:
    import console

    app = worker.wsgi
    if "console" not in app.blueprints:
        console.init_app(app)
