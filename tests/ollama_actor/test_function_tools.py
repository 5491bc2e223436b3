"""Python functions as tools: the schema ollama-python builds, and where ours is more exact.

Each case of ollama-python's own test_utils.py has a counterpart here; the functions whose schema
ollama-python gets right are compared with what its ``convert_function_to_tool`` makes.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pytest
from ollama._utils import convert_function_to_tool

from ollama_actor._tools import function_tool

if TYPE_CHECKING:  # a name for type checkers only: at run time its annotation cannot resolve
    from decimal import Decimal


def add_two_numbers(a: int, b: int) -> int:
    """
    Add two numbers together.

    Args:
      a: First number to add
      b: Second number to add

    Returns:
      int: The sum of a and b
    """
    return a + b


def no_arguments() -> str:
    """A function without arguments."""
    return "x"


def all_types(text: str, whole: int, real: float, flag: bool, items: list, table: dict):  # noqa: PLR0917
    """Every JSON type.

    Args:
        text: a string
        whole: an integer
        real: a number
        flag: a boolean
        items: an array
        table: an object
    """


def long_description(query: str) -> None:
    """Search the web.

    Several lines say
    what the function does.

    Args:
        query: What to look for,
            said over two lines
    Raises:
        ValueError: never
    """


def skewed(first: str, second: int) -> None:
    """Skewed docstring.

    Args:
            first: indented more than usual
      second: indented less
    """


def no_docstring(a: str) -> None:
    pass


def only_description(a: str) -> None:
    """Only a description."""


def with_yields(a: int) -> None:
    """Count up.

    Args:
        a: where to start

    Yields:
        b: numbers
    """


def no_types(a, b):
    """Untyped.

    Args:
        a: first
        b: second
    """


def parentheses(a: int, b: str) -> None:
    """Types in parentheses.

    Args:
        a (integer): the number
        b (str, optional): the text
    """


AGREED = [
    add_two_numbers,
    no_arguments,
    all_types,
    long_description,
    no_docstring,
    only_description,
    with_yields,
    no_types,
    parentheses,
]


@pytest.mark.parametrize("function", AGREED, ids=lambda f: f.__name__)
def test_the_schema_is_ollama_pythons(function):
    theirs = convert_function_to_tool(function).model_dump(exclude_none=True, by_alias=True)
    assert function_tool(function) == theirs


def test_the_docstring_gives_the_description_and_each_arguments():
    tool = function_tool(long_description)
    assert (
        tool["function"]["description"]
        == "Search the web.\n\nSeveral lines say\nwhat the function does."
    )
    query = tool["function"]["parameters"]["properties"]["query"]
    assert query == {"type": "string", "description": "What to look for, said over two lines"}


def test_a_skewed_docstring_still_names_each_argument():
    properties = function_tool(skewed)["function"]["parameters"]["properties"]
    assert properties["first"]["description"] == "indented more than usual"
    assert properties["second"]["description"] == "indented less"


def colon_in_continuation(path: str) -> None:
    """Read a file.

    Args:
        path: Where the file is. Note:
            relative paths start at: the current directory
    """


def test_a_continuation_line_with_a_colon_stays_the_arguments():
    # ollama-python reads "relative paths start at" as a parameter of its own.
    properties = function_tool(colon_in_continuation)["function"]["parameters"]["properties"]
    assert list(properties) == ["path"]
    assert properties["path"]["description"] == (
        "Where the file is. Note: relative paths start at: the current directory"
    )


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Point:
    x: int
    y: int


def exact(  # noqa: PLR0917
    city: str,
    days: int = 3,
    unit: Literal["C", "F"] = "C",
    tags: list[str] | None = None,
    either: int | str = 0,
    colour: Colour = Colour.RED,
    where: Point | None = None,
    pairs: Sequence[tuple[int, ...]] = (),
    anything: Any = None,
    *args: int,
    **kwargs: str,
) -> None:
    """Every case where ollama-python's schema is not what the function says."""


def test_where_ollama_pythons_schema_is_wrong_ours_is_exact():
    parameters = function_tool(exact)["function"]["parameters"]
    # ollama-python requires every parameter with a default, and drops *args into the schema
    assert parameters["required"] == ["city"]
    properties = parameters["properties"]
    assert list(properties) == [
        "city", "days", "unit", "tags", "either", "colour", "where", "pairs", "anything",
    ]  # fmt: skip
    assert properties["days"]["type"] == "integer"
    assert properties["unit"] == {"type": "string", "description": "", "enum": ["C", "F"]}
    assert properties["tags"] == {"type": "array", "description": "", "items": {"type": "string"}}
    assert properties["either"]["type"] == ["integer", "string"]  # theirs: "integer, string"
    assert properties["colour"] == {"type": "string", "description": "", "enum": ["red", "blue"]}
    assert properties["where"]["type"] == "object"
    assert properties["pairs"]["items"] == {"type": "array", "items": {"type": "integer"}}
    assert properties["anything"]["type"] == "string"


def test_a_union_keeps_its_order_every_time():
    def pick(value: str | int | float | None) -> None:
        """Pick."""

    schemas = {str(function_tool(pick)) for _ in range(20)}
    assert len(schemas) == 1
    value = function_tool(pick)["function"]["parameters"]["properties"]["value"]
    assert value["type"] == ["string", "integer", "number"]
    assert "required" not in function_tool(pick)["function"]["parameters"]


def test_annotations_written_as_strings_are_resolved():
    # this module uses `from __future__ import annotations`: every annotation is a string
    assert function_tool(add_two_numbers)["function"]["parameters"]["properties"]["a"]["type"] == (
        "integer"
    )


def test_a_method_and_a_callable_object():
    class Thermometer:
        def read(self, room: str) -> float:
            """Read the temperature.

            Args:
                room: which room
            """
            return 20.0

        def __call__(self, scale: int) -> None:
            """Call me."""

    method = function_tool(Thermometer().read)["function"]
    assert method["name"] == "read"
    assert list(method["parameters"]["properties"]) == ["room"]  # no self
    assert function_tool(Thermometer())["function"]["name"] == "Thermometer"


def test_a_builtin_without_a_signature_is_refused():
    with pytest.raises(TypeError, match="cannot read the parameters"):
        function_tool(max)


def priced(count: int, price: Decimal, tags: list[str], note: str | None = None) -> None:
    """Price some items.

    Args:
        count: how many
        price: each one's price
        tags: labels
        note: a remark
    """


def test_an_annotation_that_does_not_resolve_leaves_the_others_typed():
    # `Decimal` is imported only for type checkers: that one parameter is read as text
    parameters = function_tool(priced)["function"]["parameters"]
    properties = parameters["properties"]
    assert properties["count"] == {"type": "integer", "description": "how many"}
    assert properties["price"] == {"type": "string", "description": "each one's price"}
    assert properties["tags"] == {
        "type": "array",
        "description": "labels",
        "items": {"type": "string"},
    }
    assert properties["note"] == {"type": "string", "description": "a remark"}
    assert parameters["required"] == ["count", "price", "tags"]


def search(query: str, limit: int, *, api_key: str, region: str = "eu") -> list[str]:
    """Search the catalogue.

    Args:
        query: what to look for
        limit: how many results
        api_key: the service's key
        region: where to search
    """
    return []


def test_a_partial_is_described_as_its_function_without_the_arguments_it_binds():
    # binding the key keeps it from the model: a bound argument is no parameter of the tool
    tool = function_tool(functools.partial(search, api_key="secret"))["function"]
    assert tool["name"] == "search"
    assert tool["description"] == "Search the catalogue."
    assert tool["parameters"] == {
        "type": "object",
        "required": ["query", "limit"],
        "properties": {
            "query": {"type": "string", "description": "what to look for"},
            "limit": {"type": "integer", "description": "how many results"},
            "region": {"type": "string", "description": "where to search"},
        },
    }
    bound_first = function_tool(functools.partial(search, "cats"))["function"]["parameters"]
    assert list(bound_first["properties"]) == ["limit", "api_key", "region"]
    assert bound_first["properties"]["limit"]["type"] == "integer"


def test_a_callable_objects_parameters_are_typed_from_its_call_method():
    class Converter:
        """Convert a temperature."""

        def __call__(self, degrees: float, scale: Literal["C", "F"]) -> float:
            return degrees

    tool = function_tool(Converter())["function"]
    assert tool["name"] == "Converter"
    assert tool["description"] == "Convert a temperature."
    properties = tool["parameters"]["properties"]
    assert properties["degrees"]["type"] == "number"
    assert properties["scale"] == {"type": "string", "description": "", "enum": ["C", "F"]}


def nested_type(pair: tuple[int, int], names: dict[str, list[str]]) -> None:
    """Types in parentheses that hold parentheses.

    Args:
        pair (tuple(int, int)): two numbers
        names (Dict[str, (list)]): names by group
    """


def test_a_type_in_parentheses_may_hold_parentheses():
    properties = function_tool(nested_type)["function"]["parameters"]["properties"]
    assert properties["pair"]["description"] == "two numbers"
    assert properties["names"]["description"] == "names by group"
