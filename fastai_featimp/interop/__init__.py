"""Results in other libraries' types (shap's `Explanation`): conversions only, from this package's result frames,
with the other library imported when asked for and never required."""
