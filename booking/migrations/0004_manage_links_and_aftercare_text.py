"""Single-use manage links; the default aftercare e-mail now shows the location's aftercare text.

The clinic-default aftercare e-mail templates that still hold the earlier built-in wording get
the new built-in text (which renders {{ aftercare }}); templates a clinic edited are left alone.
"""

import django.db.models.deletion
from django.db import migrations, models

EARLIER_AFTERCARE_BODIES = {
    "en": 'Hello {{ patient_first_name }},\n\nThank you for your visit. A few things help the next days go well:\n\n- Rest the treated area for 1 to 2 days. Avoid long standing, jogging, hard exercise and heavy lifting.\n- Some soreness, like after a workout, is normal for a day or two.\n- Follow the advice your provider gave you about heat and gentle stretching.\n\nCall us{% if clinic_phone %} at {{ clinic_phone }}{% endif %} if you have:\n- a fever of 38 °C / 100.4 °F or higher;\n- pain, swelling, tenderness or redness at the treated area that keeps increasing;\n- irritation, warmth, burning or itching of the skin there;\n- any new symptom you cannot explain.\n\nIf you feel short of breath, get urgent care right away.\n\n{{ clinic_name }}\n',
    "es": 'Hola {{ patient_first_name }}:\n\nGracias por su visita. Algunas recomendaciones para los próximos días:\n\n- Deje descansar la zona tratada durante 1 o 2 días. Evite estar mucho tiempo de pie, correr, el ejercicio intenso y levantar peso.\n- Es normal sentir algo de dolor muscular, como después de hacer ejercicio, durante uno o dos días.\n- Siga los consejos de su profesional sobre el calor y los estiramientos suaves.\n\nLlámenos{% if clinic_phone %} al {{ clinic_phone }}{% endif %} si tiene:\n- fiebre de 38 °C / 100.4 °F o más;\n- dolor, hinchazón, sensibilidad o enrojecimiento en la zona tratada que va en aumento;\n- irritación, calor, ardor o picor en la piel de esa zona;\n- cualquier síntoma nuevo que no pueda explicar.\n\nSi le falta el aire, busque atención urgente de inmediato.\n\n{{ clinic_name }}\n',
}


def use_location_aftercare_text(apps, schema_editor):
    from booking.messaging.texts import default_texts

    MessageTemplate = apps.get_model("booking", "MessageTemplate")
    for language, earlier in EARLIER_AFTERCARE_BODIES.items():
        built_in = default_texts().get(("aftercare", "email", language))
        if built_in is None:
            continue
        MessageTemplate.objects.filter(
            location__isnull=True, kind="aftercare", channel="email", language=language, body=earlier
        ).update(body=built_in[1])


class Migration(migrations.Migration):

    dependencies = [
        ('booking', '0003_reminders_and_message_templates'),
    ]

    operations = [
        migrations.CreateModel(
            name='ManageLink',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('token_hash', models.CharField(max_length=64, unique=True)),
                ('created_at', models.DateTimeField()),
                ('expires_at', models.DateTimeField()),
                ('used_at', models.DateTimeField(blank=True, null=True)),
                ('used_for', models.CharField(blank=True, max_length=20)),
                ('appointment', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='manage_links', to='booking.appointment')),
            ],
            options={
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(fields=['appointment', 'used_at'], name='booking_managelink_appt_idx')],
            },
        ),
        migrations.RunPython(use_location_aftercare_text, migrations.RunPython.noop),
    ]
