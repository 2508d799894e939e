"""Generated documents: PDF certificates with an embedded CJK font (fpdf2), rendered on demand."""
