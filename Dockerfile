FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
RUN useradd --create-home app && mkdir -p /app/ml_models/forecasting /app/var && chown -R app /app/ml_models /app/var
USER app
EXPOSE 8000
# Inside a container the API must listen on every interface; everything else comes from config/settings.py.
ENV API_HOST=0.0.0.0
# The Procfile's line, with the settings exported (docker-compose.yml runs the other processes the same way).
CMD ["python", "manage.py", "proc", "api"]
