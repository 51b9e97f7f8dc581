"""HTTP routes the app serves beside its pages (st.App): thin Starlette handlers over layers/."""
