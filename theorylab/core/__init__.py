"""Study-independent machinery: parameters, sweeps, result store, claims, plotting, registry."""
