"""Portfolio optimization: demand-response plans for grid operators, schedules for residents.

``compliance`` estimates how likely a building follows a request, ``portfolio`` plans
demand-response curtailment per grid area and day, ``resident`` schedules home batteries and
ranks the cheapest hours for flexible appliances. cvxpy is imported lazily inside the solvers so
light callers (the B2C Lambda's appliance ranking) stay numpy-only.
"""
