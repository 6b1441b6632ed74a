"""cli.tables: the plain-text tables of the brume commands."""
from cli.tables import render_table


def test_columns_fit_the_widest_cell_and_none_is_empty():
    assert render_table(["ID", "Name"], [[7, None], ["abc", "x"]]).splitlines() == [
        "+-----+------+",
        "| ID  | Name |",
        "+-----+------+",
        "| 7   |      |",
        "| abc | x    |",
        "+-----+------+",
    ]


def test_no_rows_still_shows_the_header():
    assert render_table(["A"], []) == "+---+\n| A |\n+---+\n+---+"
