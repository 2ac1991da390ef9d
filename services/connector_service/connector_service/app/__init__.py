"""The process: one place that wires everything (`wiring`, `server`), settings, health, the command line."""
