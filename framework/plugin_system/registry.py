"""The component types that plugins registered, by kind and name, with the plugin that provided each."""

from __future__ import annotations

from dataclasses import dataclass

from healthcrawl.plugin_system.components import COMPONENT_KINDS, Component
from healthcrawl.errors import describe_error
from healthcrawl.plugin_system.manager import PluginManager

_REGISTER_HOOKS = {
    "source": "healthcrawl_register_sources",
    "check": "healthcrawl_register_checks",
    "sink": "healthcrawl_register_sinks",
}


class RegistrationError(Exception):
    """A plugin registered something invalid, or two plugins registered the same type name."""


@dataclass(frozen=True)
class ComponentType:
    """One registered component type."""

    kind: str
    name: str
    cls: type[Component]
    plugin: str


class ComponentRegistry:
    """Looks up component types by kind (``source``, ``check``, ``sink``) and type name."""

    def __init__(self, types: list[ComponentType]):
        self._types = {(t.kind, t.name): t for t in types}

    @classmethod
    def from_plugins(cls, manager: PluginManager) -> "ComponentRegistry":
        """Call every registration hook through pluggy, one plugin at a time, recording who registered what."""
        found: dict[tuple[str, str], ComponentType] = {}
        for kind, hook_name in _REGISTER_HOOKS.items():
            register_for = lambda plugin: {"register": _registrar(kind, plugin, found)}  # noqa: E731
            raise_registration_errors(manager, hook_name, manager.call_per_plugin(hook_name, register_for))
        return cls(list(found.values()))

    def get(self, kind: str, name: str) -> ComponentType | None:
        """The type registered as ``name`` for ``kind``, or ``None``."""
        return self._types.get((kind, name))

    def names(self, kind: str) -> list[str]:
        """Sorted type names registered for ``kind``."""
        return sorted(name for (k, name) in self._types if k == kind)

    def all(self) -> list[ComponentType]:
        """Every registered type, sorted by kind and name."""
        return sorted(self._types.values(), key=lambda t: (t.kind, t.name))


def raise_registration_errors(manager: PluginManager, hook_name: str, calls) -> None:
    """Run the calls of a registration hook; the first failure becomes a ``RegistrationError`` naming the plugin."""
    for plugin, error in calls:
        if isinstance(error, RegistrationError):
            raise error
        if error is not None:
            where = manager.origin(plugin).source
            raise RegistrationError(f"plugin {plugin!r} ({where}) failed in {hook_name}: {describe_error(error)}") from error


def _registrar(kind: str, plugin: str, found: dict[tuple[str, str], ComponentType]):
    base = COMPONENT_KINDS[kind]

    def register(component: type[Component]) -> None:
        if not (isinstance(component, type) and issubclass(component, base)):
            raise RegistrationError(f"plugin {plugin!r} registered {component!r} as a {kind}, which is not a {base.__name__} subclass")
        name = getattr(component, "type_name", None)
        if not name:
            raise RegistrationError(f"plugin {plugin!r} registered {component.__name__} without a type_name")
        clash = found.get((kind, name))
        if clash is not None:
            raise RegistrationError(
                f"{kind} type {name!r} is registered twice: by plugin {clash.plugin!r} ({clash.cls.__qualname__}) "
                f"and by plugin {plugin!r} ({component.__qualname__})"
            )
        found[(kind, name)] = ComponentType(kind, name, component, plugin)

    return register
