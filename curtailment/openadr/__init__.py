"""dnoctl's OpenADR 3 VTN, through which ASP contracts are called off (NF14), and a stand-in VEN for
the demo and tests. docs/asp-openadr.md is the guide."""
