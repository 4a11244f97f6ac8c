"""milab's pytest wiring: reports, the target and the fixtures of every scenario."""

pytest_plugins = [
    "milab.reporting.plugin",
    "fixtures.target",
    "fixtures.resources",
    "fixtures.storage",
    "fixtures.keyvault",
    "fixtures.hosts",
    "fixtures.cosmos",
    "fixtures.directory",
    "fixtures.datalake",
    "fixtures.pages",
    "fixtures.sql",
]
