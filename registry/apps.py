from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Lutetia registry"

    def ready(self):
        from registry.derive import version
        from registry.records import tokens

        tokens.connect_signals()
        version.connect_signals()
