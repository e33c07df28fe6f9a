"""The station engine: what it is given (a source of units, a way to look at a DUT) and what runs the units."""
