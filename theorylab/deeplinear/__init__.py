"""Critical learning periods in deep linear networks (Kleinman, Achille & Soatto, ICLR 2024)."""
