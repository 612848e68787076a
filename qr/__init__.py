"""QR codes: tokens, rendering (PNG, SVG, poster, batch PDF/ZIP) and scan resolution."""
